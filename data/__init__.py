"""The project's reference data (see README.md beside this file), shipped inside the package."""
