// error: can't be an out parameter
interface IOutPrimitive { void f(out int a); }
