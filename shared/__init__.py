"""Code every Efficient System service imports: settings, database, errors, logging, auth."""
