"""PeoplePath: people pathing in video behind the Rekognition StartPersonTracking /
GetPersonTracking API. The core library; it imports nothing from Streamlit."""

__version__ = "0.1.0"
