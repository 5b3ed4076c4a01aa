"""Documents' content: what type a file really is (`sniff`), and what it says (`extract`, run in a
process of its own by `runner`)."""
