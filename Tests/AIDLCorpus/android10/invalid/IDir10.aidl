interface IDir10 { void f(int[] a); }
