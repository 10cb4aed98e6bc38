"""What is read and written as files for the user: tags, covers, chapters, albums, feeds."""
