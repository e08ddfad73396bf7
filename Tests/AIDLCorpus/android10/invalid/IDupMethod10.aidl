interface IDupMethod10 { void f(); void f(int x); }
