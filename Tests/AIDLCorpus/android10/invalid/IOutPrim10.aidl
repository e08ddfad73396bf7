interface IOutPrim10 { void f(out int a); }
