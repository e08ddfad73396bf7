// error: found duplicate method ID (3)
interface IDuplicateIds { void a() = 3; void b() = 3; }
