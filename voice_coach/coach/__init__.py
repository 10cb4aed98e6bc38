"""What is remembered between sessions: the practice log, programs, stats, reminders."""
