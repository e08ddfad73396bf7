// error: cannot have out parameters
oneway interface IOnewayOut { void f(out int[] a); }
