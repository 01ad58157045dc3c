"""Wire protocols: everything that parses requests and serializes answers."""
