# The NixOS release this stand-in's Python builder is modelled on.
{
  release = "24.05";
  argsVisible = true;
  pythons = [ "3.9" "3.10" "3.11" "3.12" "3.13" ];
}
