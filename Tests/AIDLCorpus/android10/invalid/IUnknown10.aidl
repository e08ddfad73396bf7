interface IUnknown10 { void f(in Nope n); }
