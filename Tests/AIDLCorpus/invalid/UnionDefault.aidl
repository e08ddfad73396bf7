// error: only the first field of a union may have a default value
union UnionDefault { int a; int b = 2; }
