// error: redefinition of method 'f'
interface IDuplicateMethod { void f(); void f(int x); }
