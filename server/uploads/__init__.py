"""Resumable uploads of the signed form's photo: tus 1.0 core plus its creation extension."""
