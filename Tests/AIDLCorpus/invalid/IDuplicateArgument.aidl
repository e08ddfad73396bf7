// error: redefinition of argument 'x'
interface IDuplicateArgument { void f(int x, int x); }
