// error: List needs exactly one type argument
interface IGenericArity { void f(in List<String, String> xs); }
