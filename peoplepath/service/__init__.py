"""The self-hosted Rekognition people-pathing service (AWS JSON 1.1 over HTTP)."""
