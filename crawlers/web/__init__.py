"""News sites and forums: a scrapy project run in its own process (RSS/Atom and sitemaps, trafilatura)."""
