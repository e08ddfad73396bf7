// error: either all methods must have explicitly assigned transaction IDs
interface IMixedIds { void a() = 1; void b(); }
