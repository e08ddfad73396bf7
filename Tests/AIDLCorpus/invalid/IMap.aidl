// error: Map is only supported by the Java backend
interface IMap { void f(in Map m); }
