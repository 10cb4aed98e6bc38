"""The built-in programs (package data: TOML files read by ``voice_coach.coach.programs``)."""
