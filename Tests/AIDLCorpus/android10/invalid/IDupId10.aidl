interface IDupId10 { void a() = 2; void b() = 2; }
