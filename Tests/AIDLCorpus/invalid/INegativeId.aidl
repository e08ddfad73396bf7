// error: out of range
interface INegativeId { void a() = -1; }
