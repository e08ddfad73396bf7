// error: unknown type 'Missing'
interface IUnknownType { void f(in Missing m); }
