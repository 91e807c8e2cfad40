"""Everything after a spider yields an item: normalise -> dedup -> store."""
