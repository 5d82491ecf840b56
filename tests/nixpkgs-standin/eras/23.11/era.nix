# The NixOS release this stand-in's Python builder is modelled on.
{
  release = "23.11";
  argsVisible = false;
  pythons = [ "3.8" "3.9" "3.10" "3.11" "3.12" "3.13" ];
}
