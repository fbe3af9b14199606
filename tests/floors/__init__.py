"""Scripts the floor smoke tests (``tests/test_floors.py``) run in throwaway environments at
the lowest versions the packages declare; each runs one job end to end on the local platform
and exits non-zero when it did not succeed."""
