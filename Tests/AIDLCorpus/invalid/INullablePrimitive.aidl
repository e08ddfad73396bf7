// error: cannot be @nullable
interface INullablePrimitive { void f(@nullable int x); }
