-- Region scopes filter with `region_code LIKE '<prefix>%'`; under a non-C collation a plain
-- btree index cannot serve a prefix LIKE, text_pattern_ops can.
CREATE INDEX elders_region_pattern ON elders (region_code text_pattern_ops);
CREATE INDEX facilities_region_pattern ON facilities (region_code text_pattern_ops);
