// error: cannot return a value
interface IOnewayReturn { oneway int f(); }
