// error: has no fields
union EmptyUnion { }
