oneway interface IOnewayOut10 { void f(out int[] a); }
