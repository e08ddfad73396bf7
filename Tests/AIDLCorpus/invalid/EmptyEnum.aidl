// error: has no enumerators
enum EmptyEnum { }
