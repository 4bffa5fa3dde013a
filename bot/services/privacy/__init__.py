"""What is kept about a person, for how long, how they see it (/mydata) and how it goes (/forget)."""
