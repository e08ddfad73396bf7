// error: @utf8InCpp can only be used on String
interface IUtf8OnInt { void f(@utf8InCpp int x); }
