// error: void is only valid as a return type
interface IVoidParameter { void f(void x); }
