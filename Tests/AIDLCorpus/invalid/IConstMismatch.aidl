// error: cannot initialize 'int'
interface IConstMismatch { const int X = "text"; }
