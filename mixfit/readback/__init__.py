"""What mixfit reads back of what it wrote (results folders, chain shards, job and K-fold folders,
cache manifests), read as untrusted input: schema-checked, bounded, paths kept in their folder,
formulas re-parsed by mixfit's own parser; a file that fails is one InputError naming it."""
