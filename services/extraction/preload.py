"""Imported once by the extraction forkserver: the libraries, and the data they load on first use
(dateparser's languages, yake's stop words, py3langid's model), so every forked child starts warm."""

from __future__ import annotations

import logging

from services.extraction.enrich import analyse

# pypdf reports every repair it makes to a damaged file on its logger; the outcome says what matters.
logging.getLogger("pypdf").setLevel(logging.ERROR)
analyse("Warm-up: the invoice of 3 February 2026 for $10.00 is due. Please pay by 2026-03-01.")
