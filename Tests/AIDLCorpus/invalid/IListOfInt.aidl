// error: List<int> is not supported
interface IListOfInt { void f(in List<int> xs); }
