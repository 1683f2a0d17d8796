"""The Falcon web app: thin resources over `core`."""
