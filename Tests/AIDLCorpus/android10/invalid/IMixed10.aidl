interface IMixed10 { void a() = 1; void b(); }
