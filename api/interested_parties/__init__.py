"""interested_parties."""
