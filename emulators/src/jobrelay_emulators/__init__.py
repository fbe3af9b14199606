"""Offline emulators of the hosted platforms (``jobrelay[emulators]``)."""
