// error: The direction of 'a' is not specified
interface IMissingDirection { void f(int[] a); }
