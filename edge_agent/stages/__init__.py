"""Pipeline stages: the values they pass (`types`) and the protocols they implement (`protocols`).
A leaf: it imports nothing of the project, so every domain package may depend on it."""
