"""Units, forums, people and their seats: the org tree, registration by role, invites,
membership, linked groups and linked channels."""
