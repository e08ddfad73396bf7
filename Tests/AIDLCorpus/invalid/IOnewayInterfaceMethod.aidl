// error: cannot return a value
oneway interface IOnewayInterfaceMethod { int f(); }
