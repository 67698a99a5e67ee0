"""Text PostgreSQL can store. It refuses the NUL character, so that is a 422 at the edge."""

NO_NUL = r"^[^\x00]*$"
